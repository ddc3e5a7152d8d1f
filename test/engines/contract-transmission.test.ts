import { contractSuite } from './contract.js'

contractSuite('transmission')
