/**
 * A capture file read whole into memory as frame batches, so a bench times
 * the pipeline and not the disk.
 *
 * @module
 */
import { type FrameBatch, readCaptureFile } from "../capture/mod.ts";

/** Every batch of the capture at `path`, in order. */
export async function loadBatches(path: string): Promise<FrameBatch[]> {
  const out: FrameBatch[] = [];
  for await (const b of readCaptureFile(path)) out.push(b);
  return out;
}
