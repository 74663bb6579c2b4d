/**
 * Exposes an internal tensor of an ONNX model as an extra graph output, so onnxruntime
 * returns it next to the logits.
 *
 * Works on the wire format instead of decoding the whole ModelProto: only the `graph` field
 * (ModelProto field 7) is touched, by appending one `output` entry (GraphProto field 12) to
 * its bytes. Repeated fields may appear anywhere in a message, so the appended entry simply
 * becomes the last output; every other byte (weights, metadata, fields this code does not
 * know) is kept as it was.
 */
import protobuf from "protobufjs/minimal.js";

const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const NODE_OUTPUT = 2;
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_ELEM_TYPE = 1;
const ELEM_FLOAT = 1;
const WIRE_LEN = 2;

interface Field {
  field: number;
  wireType: number;
  /** Start of the tag, of the payload (after any length prefix), and end of the field. */
  start: number;
  payloadStart: number;
  end: number;
}

function* fields(bytes: Uint8Array): Generator<Field> {
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === WIRE_LEN) {
      const length = reader.uint32();
      const payloadStart = reader.pos;
      reader.skip(length);
      yield { field, wireType, start, payloadStart, end: reader.pos };
    } else {
      reader.skipType(wireType);
      yield { field, wireType, start, payloadStart: start, end: reader.pos };
    }
  }
}

function strings(bytes: Uint8Array, field: number): string[] {
  const decoder = new TextDecoder();
  const out: string[] = [];
  for (const f of fields(bytes)) {
    if (f.field === field && f.wireType === WIRE_LEN) out.push(decoder.decode(bytes.subarray(f.payloadStart, f.end)));
  }
  return out;
}

/** Names of the graph outputs and of every node output (candidate internal tensors). */
export function graphTensorNames(model: Uint8Array): { outputs: string[]; nodeOutputs: Set<string> } {
  const graph = findGraph(model);
  const graphBytes = model.subarray(graph.payloadStart, graph.end);
  const outputs: string[] = [];
  const nodeOutputs = new Set<string>();
  for (const f of fields(graphBytes)) {
    if (f.wireType !== WIRE_LEN) continue;
    const payload = graphBytes.subarray(f.payloadStart, f.end);
    if (f.field === GRAPH_OUTPUT) outputs.push(...strings(payload, VALUE_INFO_NAME));
    else if (f.field === GRAPH_NODE) for (const name of strings(payload, NODE_OUTPUT)) nodeOutputs.add(name);
  }
  return { outputs, nodeOutputs };
}

/** Where the ModelProto's graph field sits: tag start, payload start, end. */
export function findGraph(model: Uint8Array): Field {
  let graph: Field | undefined;
  try {
    for (const f of fields(model)) if (f.field === MODEL_GRAPH && f.wireType === WIRE_LEN) graph = f;
  } catch (cause) {
    throw new Error("not an ONNX ModelProto (protobuf framing is broken)", { cause });
  }
  if (!graph) throw new Error("not an ONNX ModelProto (no graph field)");
  return graph;
}

/**
 * Returns a copy of `model` whose graph also outputs `tensor` (declared float32, shape left
 * to inference). Returns `model` unchanged when the tensor already is an output. Throws when
 * no node produces the tensor.
 */
export function exposeTensor(model: Uint8Array, tensor: string): Uint8Array {
  const { outputs, nodeOutputs } = graphTensorNames(model);
  if (outputs.includes(tensor)) return model;
  if (!nodeOutputs.has(tensor)) throw new Error(`no node of the graph produces tensor "${tensor}"`);

  const valueInfo = protobuf.Writer.create()
    .uint32((VALUE_INFO_NAME << 3) | WIRE_LEN)
    .string(tensor)
    .uint32((VALUE_INFO_TYPE << 3) | WIRE_LEN)
    .fork()
    .uint32((TYPE_TENSOR << 3) | WIRE_LEN)
    .fork()
    .uint32((TENSOR_ELEM_TYPE << 3) | 0)
    .int32(ELEM_FLOAT)
    .ldelim()
    .ldelim()
    .finish();
  const extra = protobuf.Writer.create()
    .uint32((GRAPH_OUTPUT << 3) | WIRE_LEN)
    .bytes(valueInfo)
    .finish();

  const graph = findGraph(model);
  const graphLength = graph.end - graph.payloadStart + extra.length;
  const header = protobuf.Writer.create()
    .uint32((MODEL_GRAPH << 3) | WIRE_LEN)
    .uint32(graphLength)
    .finish();

  const out = new Uint8Array(graph.start + header.length + graphLength + (model.length - graph.end));
  let at = 0;
  for (const part of [model.subarray(0, graph.start), header, model.subarray(graph.payloadStart, graph.end), extra, model.subarray(graph.end)]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
