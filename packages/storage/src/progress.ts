/** Progress of a put or get: plaintext bytes done, and the object's size when known. */
export interface Progress {
  readonly bytes: number;
  readonly totalBytes: number | undefined;
}

export type ProgressCallback = (progress: Progress) => void;

/** Default chunk size, chosen by measurement (see README: "Chunk size"). */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Chunks are never larger than this, whatever a writer chooses: one chunk must fit in one message. */
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;
export const MIN_CHUNK_SIZE = 1024;
