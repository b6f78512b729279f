export { createGateway, type Gateway, type GatewayDeps } from './gateway.js'
export { FlowgateError, ErrorCodes, isFlowgateError, type ErrorCode } from './errors.js'
export { createLogger, type Logger } from './logger.js'
