import { Packr, Unpackr } from 'msgpackr';
import { MalformedFrameError } from './errors.js';

/**
 * The msgpack codec. Records and other msgpackr extensions are off, so the bytes are plain
 * msgpack that any implementation reads, and signing a packed value is deterministic
 * (we sign arrays, never maps).
 */
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, variableMapSize: true });
const unpackr = new Unpackr({
  useRecords: false,
  moreTypes: false,
  mapsAsObjects: true,
  int64AsType: 'number',
  // Refuse msgpackr's reference extensions: from untrusted bytes they build cyclic values
  // that loop or overflow the stack in whoever walks or re-packs them.
  structuredClone: false,
});

export function pack(value: unknown): Buffer {
  return packr.pack(value);
}

/** Unpacks one msgpack value; any decoding failure is a MalformedFrameError. */
export function unpack(bytes: Uint8Array): unknown {
  try {
    return unpackr.unpack(bytes);
  } catch (error) {
    throw new MalformedFrameError('invalid msgpack', { cause: error });
  }
}
