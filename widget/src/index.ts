// meetdesk's customer widget core: the typed API client, the customer session (from a signed
// link) with its event socket, meets, and browser WebRTC in meetdesk's slot layout.
//
// Built as `dist/meetdesk.js` (ES module) and `dist/meetdesk.iife.js` (global `MeetDesk`);
// the server serves them at /widget/.

export { Api, ApiError, isApiError } from "./api";
export { EventSocket, type EventSocketOptions, type SocketState } from "./events";
export {
  CustomerSession,
  MeetCall,
  parseMeetLink,
  parseResumeLink,
  type CallPhase,
  type SessionOptions,
} from "./session";
export {
  MeetMedia,
  MicrophoneError,
  openMicrophone,
  candidateSummary,
  RECEIVE_SLOTS,
  type MediaState,
  type MeetMediaOptions,
  type MicrophoneProblem,
  type SlotInfo,
} from "./media";
export { TrackTap, measureTone, rmsDbfs, tonePowerDb, type ToneReading } from "./level";
export type * from "./bindings";
