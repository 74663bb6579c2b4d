/**
 * X-Ray through Powertools Tracer: the AWS SDK clients' calls become subsegments, `traced` adds our
 * own (the store's write and read), and `traceFields` puts the invocation's trace id, Lambda request
 * id and cold-start flag on log lines (what Powertools Logger would add; see docs/observability.md).
 * Outside Lambda (tests, `pnpm start`) the Tracer is off and all of this costs a function call.
 */
import { Tracer } from "@aws-lambda-powertools/tracer";
import type { Fields } from "@photo-clusters/core";

// HTTP is not patched: the SDK clients are captured one by one, and nothing else here talks to AWS.
const tracer = new Tracer({ captureHTTPsRequests: false });

/** The client, with each call it sends recorded as a subsegment named after its service. */
export const traceClient = <T>(client: T): T => tracer.captureAWSv3Client(client);

/** Runs `task` inside a subsegment of the invocation's segment, with its error recorded. */
export async function traced<T>(name: string, task: () => Promise<T>): Promise<T> {
  const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
  if (!parent) return task();
  const subsegment = parent.addNewSubsegment(name);
  try {
    return await task();
  } catch (error) {
    subsegment.addError(error as Error);
    throw error;
  } finally {
    subsegment.close();
  }
}

// One invocation at a time runs in a Lambda environment: the current one is module state.
let awsRequestId: string | undefined;
let invocations = 0;

/** The handler, noting each invocation's request id (from Lambda's context) for the log lines. */
export function withInvocation<E, C extends { awsRequestId?: string }, R>(handler: (event: E, context?: C) => Promise<R>) {
  return (event: E, context?: C): Promise<R> => {
    awsRequestId = context?.awsRequestId;
    invocations++;
    return handler(event, context);
  };
}

/** The current invocation's X-Ray trace id, request id and whether it is the environment's first; nothing outside Lambda. */
export function traceFields(): Fields {
  const traceId = tracer.getRootXrayTraceId();
  return { ...(traceId && { traceId }), ...(awsRequestId && { awsRequestId, coldStart: invocations === 1 }) };
}
