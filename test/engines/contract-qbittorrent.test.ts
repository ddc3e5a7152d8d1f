import { contractSuite } from './contract.js'

contractSuite('qbittorrent')
