import { contractSuite } from './contract.js'

// rTorrent reached as a rented seedbox exposes it: XML-RPC over HTTP with basic auth (a test proxy to its SCGI port).
contractSuite('rtorrent', { http: true })
