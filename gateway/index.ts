export { createGateway, type Gateway, type GatewayDeps } from './gateway.js'
export { FlowgateError, ErrorCodes, GatewayErrorCodes, isFlowgateError, type CodedError, type ErrorCode, type GatewayErrorCode } from './errors.js'
export { createLogger, type Logger } from './logger.js'
