/**
 * Packet sources: capture files (pcap, pcapng) and live interfaces
 * (libpcap through FFI, read in a Worker). Every source yields the same
 * {@link FrameBatch}.
 *
 * @module
 */
export * from "./batch.ts";
export {
  CaptureFileError,
  type CaptureFileSummary,
  type CaptureFormat,
  hasCaptureMagic,
  readCaptureFile,
  type ReadCaptureOptions,
} from "./pcap_file.ts";
export {
  type PcapFrame,
  PcapWriter,
  type PcapWriterOptions,
  writePcap,
} from "./pcap_writer.ts";
export {
  type CaptureStats,
  LiveSource,
  type LiveSourceOptions,
} from "./live_source.ts";
export * from "./live_errors.ts";
export {
  type CaptureAccess,
  type CaptureDenial,
  defaultRouteInterface,
  formatInterfacesTable,
  type InterfaceAddress,
  type InterfaceInfo,
  listInterfaces,
  probeCapture,
} from "./interfaces.ts";
export {
  type ReplayOptions,
  ReplaySource,
  type ReplayStatus,
  sliceBatch,
} from "./replay_source.ts";
