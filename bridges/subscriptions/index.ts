/** Subscriptions: the CloudEvents Subscriptions API's object model and the producer's policy. Pure. */
export { parseSubscriptionRequest, subscriptionView, RequestError, type Subscription, type SubscriptionRequest, type SubscriptionState, type SinkCredential } from './model.js'
export { chooseStream, policyProblem, subscriptionBridge, subscriptionBridgeName, suspendCheck, SUBSCRIPTION_BRIDGE_PREFIX, type SuspendWatch } from './policy.js'
export { filterWithin, sinkProblem, typeAllowed } from './patterns.js'
export { registryDocument, messageId, CAPABILITIES, ID_PATTERN, XREGISTRY_SPEC_VERSION, type Stream, type RegistryInput } from './registry.js'
export { registryView, inlinePaths, RegistryRequestError } from './registry-view.js'
