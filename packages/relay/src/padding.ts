/**
 * Size buckets: every sealed RelayMessage is exactly one of these sizes, so a relay learns only the
 * bucket of a message, never its exact length. Powers of two from 256 B to 64 KiB, then whole
 * multiples of 64 KiB.
 */
export const PADDING_BUCKETS: readonly number[] = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
const LARGE_STEP = 65536;

/** The bucket a sealed message of `size` bytes (before padding) is padded to. */
export function paddedSize(size: number): number {
  for (const bucket of PADDING_BUCKETS) if (size <= bucket) return bucket;
  return Math.ceil(size / LARGE_STEP) * LARGE_STEP;
}

/** Whether `size` is a bucket size (what a relay may check of a sealed message). */
export function isBucketSize(size: number): boolean {
  return PADDING_BUCKETS.includes(size) || (size > 0 && size % LARGE_STEP === 0);
}
