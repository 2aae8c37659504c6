/**
 * The messages between the "KeyRelay: Compare Models" webview and the extension. The webview only
 * asks (run, cancel, copy, open); the extension runs the fan-out in the core and streams back each
 * model's chunks and result.
 */
import type { ModelResponse } from '../types';

/** One model's finished answer, as the fan-out reports it (the masked key only). */
export type CompareResult = ModelResponse;

export type CompareToExtension =
  | { type: 'ready' }
  | { type: 'run'; prompt: string; models: string[] }
  | { type: 'cancel' }
  | { type: 'copy'; index: number }
  | { type: 'open'; index: number };

export type CompareToWebview =
  /** The model ids to offer: each provider's models (`provider/model`). */
  | { type: 'models'; models: string[] }
  | { type: 'start'; models: string[] }
  | { type: 'delta'; index: number; delta: string }
  | { type: 'result'; index: number; result: CompareResult }
  | { type: 'done'; successful: number; failed: number; totalMs: number }
  | { type: 'error'; message: string };
