import { contractSuite } from './contract.js'

contractSuite('deluge')
