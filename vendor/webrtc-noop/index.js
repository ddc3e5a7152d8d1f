'use strict'
// Seedboxes speak TCP/uTP only; exporting undefined makes webtorrent treat WebRTC as unavailable.
module.exports = {
  RTCPeerConnection: undefined,
  RTCSessionDescription: undefined,
  RTCIceCandidate: undefined,
}
