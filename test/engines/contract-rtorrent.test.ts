import { contractSuite } from './contract.js'

contractSuite('rtorrent')
