/**
 * ONNX wire format: the field numbers of the protobuf messages in onnx/onnx.proto3 (ONNX 1.17) that ViT
 * Inspector reads or writes, and the enum values it uses. The one place these numbers live: the reader
 * (src/node/onnx/parse.ts), the in-memory surgery (surgery.ts, graphEdit.ts, tokenMask.ts, fusedAttention.ts),
 * the weights-by-reference reader (weightsByReference.ts) and the session helpers (session.ts) name them from here.
 */

export const ModelProto = {
  IR_VERSION: 1, PRODUCER_NAME: 2, PRODUCER_VERSION: 3, DOMAIN: 4, MODEL_VERSION: 5, DOC_STRING: 6, GRAPH: 7,
  OPSET_IMPORT: 8, METADATA_PROPS: 14, TRAINING_INFO: 20, FUNCTIONS: 25, CONFIGURATION: 26,
} as const;

export const OperatorSetIdProto = { DOMAIN: 1, VERSION: 2 } as const;

export const GraphProto = { NODE: 1, NAME: 2, INITIALIZER: 5, DOC_STRING: 10, INPUT: 11, OUTPUT: 12, VALUE_INFO: 13 } as const;

export const NodeProto = { INPUT: 1, OUTPUT: 2, NAME: 3, OP_TYPE: 4, ATTRIBUTE: 5, DOC_STRING: 6, DOMAIN: 7 } as const;

export const AttributeProto = {
  NAME: 1, F: 2, I: 3, S: 4, T: 5, G: 6, FLOATS: 7, INTS: 8, STRINGS: 9, TENSORS: 10, GRAPHS: 11, TYPE: 20,
} as const;

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

export const TensorProto = {
  DIMS: 1, DATA_TYPE: 2, SEGMENT: 3, FLOAT_DATA: 4, INT32_DATA: 5, STRING_DATA: 6, INT64_DATA: 7, NAME: 8, RAW_DATA: 9,
  DOUBLE_DATA: 10, UINT64_DATA: 11, DOC_STRING: 12, EXTERNAL_DATA: 13, DATA_LOCATION: 14,
} as const;

/** TensorProto.DataType values. */
export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11,
  UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

/** TensorProto.DataLocation values. */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

export const StringStringEntryProto = { KEY: 1, VALUE: 2 } as const;

export const ValueInfoProto = { NAME: 1, TYPE: 2, DOC_STRING: 3 } as const;

export const TypeProto = { TENSOR_TYPE: 1 } as const;

/** TypeProto.Tensor. */
export const TypeProtoTensor = { ELEM_TYPE: 1, SHAPE: 2 } as const;

export const TensorShapeProto = { DIM: 1 } as const;

/** TensorShapeProto.Dimension. */
export const Dimension = { DIM_VALUE: 1, DIM_PARAM: 2 } as const;
