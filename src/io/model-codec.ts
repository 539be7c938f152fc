import { OutOfMemoryError, shown, TreegateError } from '../core/errors.js';
import { NORMALIZATION_KEYS, normalizationProblem } from '../core/normalization.js';
import { LAYER_KEYS } from '../layers/layer.js';
import { DATA_KEYS, Model, MODEL_KEYS, paramShapes, type ModelConfig } from '../layers/model.js';
import { contentChecksum, verifyChecksum } from './checksum.js';
import { joinParts, readSafetensors, safetensorsParts, type FileBytes, type StoredTensor, type TensorEntry } from './safetensors.js';

// The model file format (docs/format.md) as bytes in and out: no file system, so browsers can use it too.

/** Value of the `format` metadata key; see docs/format.md. */
export const MODEL_FORMAT = 'treegate-model/1';
/** Parameter values a config may need beyond the file's tensors before it is rejected unbuilt (4 MiB of float32). */
const CONFIG_ALLOWANCE = 1 << 20;

/** Serializes a model: one safetensors file, config JSON in its metadata (docs/format.md). */
export function encodeModel(model: Model): Uint8Array<ArrayBuffer> {
  return joinParts(encodeModelParts(model));
}

/** The model's file as parts to write in turn (safetensorsParts): views of its weights, for a file of any size; write them before the model changes. */
export function encodeModelParts(model: Model): Uint8Array[] {
  checkFiniteParams(model);
  const tensors = model.params().map((p) => ({ name: p.name, shape: [...p.shape], data: p.data }));
  const metadata = { format: MODEL_FORMAT, config: JSON.stringify(model.toConfig()) };
  return safetensorsParts(tensors, { ...metadata, checksum: contentChecksum(metadata, SUMMED, tensors) });
}

/** The metadata a model file's checksum covers, in this order (docs/format.md §2). */
const SUMMED = ['format', 'config'];

/** Refuses to write what decodeModel would refuse to read: a parameter holding NaN or ±Infinity. */
export function checkFiniteParams(model: Model): void {
  for (const p of model.params()) {
    for (let i = 0; i < p.data.length; i++) {
      if (!Number.isFinite(p.data[i])) {
        throw new TreegateError(`cannot save the model: tensor ${p.name} holds a non-finite value (${p.data[i]}) at index ${i}`,
          'a model file must hold finite weights (training diverged?)');
      }
    }
  }
}


/**
 * Rebuilds a model from file bytes (or a ByteSource: loadModel reads a file of any size so), checking the config and
 * that every tensor is present with its exact shape and finite values.
 */
export function decodeModel(bytes: FileBytes, source: string): Model {
  const { tensors, metadata } = readSafetensors(bytes, source);
  if (metadata.format !== MODEL_FORMAT) {
    const checkpoint = typeof metadata.format === 'string' && metadata.format.startsWith('treegate-checkpoint/');
    throw new TreegateError(`${source}: not a treegate model (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected "${MODEL_FORMAT}")`,
      checkpoint ? 'it is a training checkpoint: `treegate train --resume` goes on from it, and a finished run writes model.safetensors; ' +
        'in the API, decodeCheckpoint(bytes, source).model (loadNewestCheckpoint(dir) in Node) is its model'
        : 'pass a model file: one written by treegate train, saveModel or encodeModel');
  }
  return modelFromStored(metadata.config, tensors, source, () => false, (model) =>
    verifyChecksum(metadata, SUMMED, model.params().map((p) => ({ name: p.name, data: p.data })), source, 'use another copy of the model, or train it again'));
}

/**
 * The config with the fields this version reads: a file may hold others (docs/format.md §3: readers ignore the
 * fields they do not know), which the model's constructor, made for configs written in code, would refuse.
 */
function knownFields(c: ModelConfig): ModelConfig {
  const pick = (o: object, keys: readonly string[]): object => Object.fromEntries(Object.entries(o).filter(([key]) => keys.includes(key)));
  const data = typeof c.data === 'object' && c.data !== null ? { data: pick(c.data, DATA_KEYS) } : {};
  const nz = typeof c.normalization === 'object' && c.normalization !== null && !Array.isArray(c.normalization)
    ? { normalization: pick(c.normalization, NORMALIZATION_KEYS) } : {};
  const layers = c.layers.map((l) => (Object.hasOwn(LAYER_KEYS, l.kind) ? pick(l, LAYER_KEYS[l.kind]) : l));
  return { ...pick(c, MODEL_KEYS), ...data, ...nz, layers } as ModelConfig;
}

/**
 * Builds a model from its config JSON and decoded tensors: the config is
 * checked, every parameter's tensor must be present with its exact shape (all
 * checked before the model allocates anything) and finite values, and any
 * other tensor is an error unless `extra(name)` says it belongs to the file's
 * other contents (a checkpoint's optimizer state).
 */
export function modelFromTensors(configJson: string | undefined, tensors: Map<string, TensorEntry>, source: string,
  extra: (name: string) => boolean): Model {
  const stored = new Map<string, StoredTensor>();
  for (const [name, t] of tensors) stored.set(name, { shape: t.shape, size: t.data.length, read: (into) => into.set(t.data) });
  return modelFromStored(configJson, stored, source, extra);
}

/**
 * modelFromTensors over tensors read where they go: each straight into its parameter's array. `verify(model)` runs
 * once they are read, before their values are checked (a checkpoint's checksum); what it throws is thrown.
 */
export function modelFromStored(configJson: string | undefined, tensors: Map<string, StoredTensor>, source: string, extra: (name: string) => boolean,
  verify: (model: Model) => void = () => {}): Model {
  const damaged = 'the file is damaged or was not written by treegate: use another copy of it, or train the model again';
  if (configJson === undefined) throw new TreegateError(`${source}: the metadata holds no model config ("config")`, damaged);
  let config: ModelConfig;
  try {
    config = JSON.parse(configJson) as ModelConfig;
  } catch (e) {
    throw new TreegateError(`${source}: the model config in the metadata is not valid JSON (${(e as Error).message})`, damaged);
  }
  if (typeof config !== 'object' || config === null || !Array.isArray(config.layers)) {
    throw new TreegateError(`${source}: the model config has no layer list`);
  }
  for (const c of config.layers) {
    if (typeof c !== 'object' || c === null) throw new TreegateError(`${source}: a layer config is not an object`);
  }
  config = knownFields(config);
  if (!Number.isSafeInteger(config.inputSize) || config.inputSize < 1) {
    throw new TreegateError(`${source}: the model input size (inputSize) is ${shown(config.inputSize)}, must be a whole number ≥ 1`, 'the file is damaged or was not written by treegate');
  }
  if (config.normalization !== undefined) {
    // within the bounds normalizeInPlace enforces when the model evaluates a dataset, so that a model file that loads can be evaluated
    const problem = normalizationProblem(config.normalization, config.inputSize);
    if (problem !== undefined) throw new TreegateError(`${source}: the model config's ${problem}`, 'the file is damaged or was not written by treegate');
  }
  // every tensor the config needs must be in the file with its exact shape before the model allocates anything:
  // a small file with a config claiming huge layers is rejected here, not after reserving their memory
  let shapes: Array<{ name: string; shape: number[] }>;
  try {
    shapes = paramShapes(config);
  } catch (e) {
    throw new TreegateError(`${source}: invalid model config: ${e instanceof Error ? e.message : String(e)}`);
  }
  // allocation stays bounded by what the file holds: a config needing more values than the file's tensors (plus a
  // small allowance, so that small configs get the model's own messages about bad options) is rejected before the
  // model exists; otherwise the model is built and each tensor is matched below
  const need = shapes.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  let have = 0;
  for (const t of tensors.values()) have += t.size;
  if (need > have + CONFIG_ALLOWANCE) {
    const bad = shapes.find(({ name, shape }) => {
      const t = tensors.get(name);
      return !t || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]);
    });
    throw new TreegateError(`${source}: the config needs ${need} parameter values but the file holds ${have}` +
      (bad ? ` (tensor ${bad.name} ${tensors.has(bad.name) ? `has shape [${tensors.get(bad.name)!.shape}], the config needs [${bad.shape}]` : 'is missing'})` : ''));
  }
  let model: Model;
  try {
    model = new Model(config);
  } catch (e) {
    // the config is untrusted input: any failure to build from it is a bad file, not a bug, but for a model this
    // machine has no memory for (named as such)
    if (e instanceof OutOfMemoryError) throw new OutOfMemoryError(`${source}: ${e.problem}`, 'load it where more memory is free');
    throw new TreegateError(`${source}: invalid model config: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const expected = new Set<string>();
    for (const p of model.params()) {
      expected.add(p.name);
      const t = tensors.get(p.name);
      if (!t) throw new TreegateError(`${source}: tensor ${p.name} is missing`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new TreegateError(`${source}: tensor ${p.name} has shape [${t.shape}], the config needs [${p.shape}]`);
      }
      t.read(p.data);
      p.version++;
    }
    verify(model);
    for (const p of model.params()) {
      for (let i = 0; i < p.data.length; i++) {
        if (!Number.isFinite(p.data[i])) throw new TreegateError(`${source}: tensor ${p.name} holds a non-finite value (${p.data[i]}) at index ${i}`);
      }
    }
    for (const name of tensors.keys()) {
      if (!expected.has(name) && !extra(name)) throw new TreegateError(`${source}: unexpected tensor ${name} (not part of the config)`);
    }
    // a file's units gating without gateUnits (another tool's: treegate writes them) reads units 0 … k − 1, as
    // format.md says: they are the trained weights' units, not to be chosen again from a Trainer's data
    for (const { layer } of model.treeLayers()) layer.gateUnitsPending = false;
  } catch (e) {
    model.dispose(); // (its arrays go back to the backend: a wasm module's memory)
    throw e;
  }
  return model;
}

