import { TreegateError } from '../core/errors.js';
import { Model, type ModelConfig } from '../layers/model.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

// The model file format (docs/format.md) as bytes in and out: no file system, so browsers can use it too.

/** Value of the `format` metadata key; see docs/format.md. */
export const MODEL_FORMAT = 'treegate-model/1';
/** Serializes a model: one safetensors file, config JSON in its metadata (docs/format.md). */
export function encodeModel(model: Model): Uint8Array {
  const tensors = model.params().map((p) => ({ name: p.name, shape: [...p.shape], data: p.data }));
  return encodeSafetensors(tensors, { format: MODEL_FORMAT, config: JSON.stringify(model.toConfig()) });
}

/** Rebuilds a model from file bytes, checking the config and that every tensor is present with its exact shape and finite values. */
export function decodeModel(bytes: Uint8Array, source: string): Model {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== MODEL_FORMAT) {
    throw new TreegateError(`${source}: not a treegate model (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected "${MODEL_FORMAT}")`,
      'pass a file written by treegate train');
  }
  let config: ModelConfig;
  try {
    config = JSON.parse(metadata.config ?? '') as ModelConfig;
  } catch {
    throw new TreegateError(`${source}: the model config in the metadata is not valid JSON`);
  }
  if (typeof config !== 'object' || config === null || !Array.isArray(config.layers)) {
    throw new TreegateError(`${source}: the model config has no layer list`);
  }
  for (const c of config.layers) {
    if (typeof c !== 'object' || c === null) throw new TreegateError(`${source}: a layer config is not an object`);
  }
  const norm = config.normalization;
  if (norm !== undefined) {
    const ok = typeof norm === 'object' && norm !== null && [norm.scale, norm.mean, norm.std].every((v) => typeof v === 'number' && Number.isFinite(v)) && norm.std > 0;
    if (!ok) throw new TreegateError(`${source}: the normalization in the model config is malformed (needs finite scale, mean and std > 0)`);
  }
  let model: Model;
  try {
    model = new Model(config);
  } catch (e) {
    // the config is untrusted input: any failure to build from it is a bad file, not a bug
    throw new TreegateError(`${source}: invalid model config: ${e instanceof Error ? e.message : String(e)}`);
  }
  const expected = new Set<string>();
  for (const p of model.params()) {
    expected.add(p.name);
    const t = tensors.get(p.name);
    if (!t) throw new TreegateError(`${source}: tensor ${p.name} is missing`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new TreegateError(`${source}: tensor ${p.name} has shape [${t.shape}], the config needs [${p.shape}]`);
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw new TreegateError(`${source}: tensor ${p.name} holds a non-finite value (${t.data[i]}) at index ${i}`);
    }
    p.data.set(t.data);
    p.version++;
  }
  for (const name of tensors.keys()) {
    if (!expected.has(name)) throw new TreegateError(`${source}: unexpected tensor ${name} (not part of the config)`);
  }
  return model;
}

