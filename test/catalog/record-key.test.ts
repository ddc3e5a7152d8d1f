/**
 * The scan keys a record by a tag of its AACID computed from the line's bytes (aacidTagOfAscii),
 * while every lookup computes it from the AACID's text (aacidTag): the two must agree, or `get`
 * and the checks between files would not find what the scan stored.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { aacidTag, aacidTagOfAscii } from '../../src/catalog/record-key.js'

test('the tag of an AACID read from its bytes is the tag of its text', () => {
  const aacids = [
    'aacid__zlib3_records__20230808T014342Z__22430000__2YQ9BwKPexrgcydcbqKt73',
    'aacid__ia2_acsmpdf_files__20231008T203648Z__ia2_acsmpdf_files__x3pxe8Qd9jHw3sSPwUcHBw',
    'aacid__duxiu_records__20240130T000000Z__1__AAAAAAAAAAAAAAAAAAAAAA',
    'aacid__c__20000101T000000Z__a',
    '',
  ]
  for (const aacid of aacids) {
    const line = Buffer.from(`{"aacid":"${aacid}","metadata":{}}`)
    const from = line.indexOf(aacid)
    assert.equal(aacidTagOfAscii(line, from, from + aacid.length), aacidTag(aacid), aacid)
  }
  // Every printable ASCII byte at every position.
  for (let c = 0x20; c < 0x7f; c++) {
    const aacid = `aacid__x__20230808T014342Z__${String.fromCharCode(c).repeat(5)}__z`
    assert.equal(aacidTagOfAscii(Buffer.from(aacid), 0, aacid.length), aacidTag(aacid))
  }
})
