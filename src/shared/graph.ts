/**
 * A format-neutral view of an ONNX model (as Netron does): only what the inspector needs, decoded lazily
 * from the file's bytes. Tensor data is never copied: initializers keep byte ranges into the original buffer.
 */
import { DataType } from './onnxFields';

export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: TensorData }
  | { type: 'graph' | 'other' };

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string; // '' or 'ai.onnx' for the standard ops
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttributeValue>;
  /** Byte range of this NodeProto inside OnnxModel.bytes (for in-memory edits that splice the node). */
  range: [number, number];
}

/** A value's declared type: element type (ONNX TensorProto.DataType) and dims (number, symbolic name, or null). */
export interface ValueInfo {
  name: string;
  elemType: number;
  dims: (number | string | null)[] | null; // null when the shape is not declared
}

export interface TensorData {
  name: string;
  dataType: number;
  dims: number[];
  /** Decode as numbers (float, int32, int64 -> number). Only call for small tensors (shapes, axes, kernels). */
  values(): number[];
  byteLength: number;
  external: { location: string; offset: number; length: number | null } | null;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[]; // graph order
  inputs: ValueInfo[]; // real inputs only (initializers removed)
  outputs: ValueInfo[];
  valueInfo: Map<string, ValueInfo>;
  initializers: Map<string, TensorData>;
  /** Byte range of the GraphProto payload inside OnnxModel.bytes. */
  range: [number, number];
}

export interface OnnxModel {
  bytes: Uint8Array; // the original file, never modified
  irVersion: number;
  producer: string;
  opsets: Map<string, number>; // domain ('' = ai.onnx) -> version
  graph: OnnxGraph;
  /** Byte range of ModelProto.graph's length-delimited field (tag, length and payload). */
  graphFieldRange: [number, number];
}

/** TensorProto.DataType, as graph code names element types. */
export const ElemType = DataType;
