import assert from 'node:assert/strict'
import { test } from 'node:test'
import { aacseedCommand } from '../../src/cli/invocation.js'

test('hints name aacseed the way it was started', () => {
  const env = { PATH: '/usr/bin:/home/u/.local/bin' }
  // npm install -g --prefix ~/.local: the bin is on PATH.
  assert.equal(aacseedCommand('/home/u/.local/bin/aacseed', env, '/'), 'aacseed')
  // A clone through npx (npx puts node_modules/.bin on PATH too).
  assert.equal(
    aacseedCommand(
      '/src/aacseed/node_modules/.bin/aacseed',
      { PATH: `/src/aacseed/node_modules/.bin:${env.PATH}` },
      '/',
    ),
    'npx aacseed',
  )
  // node bin/aacseed.js from a clone, relative to the working folder.
  assert.equal(aacseedCommand('bin/aacseed.js', env, '/src/my clone'), "node '/src/my clone/bin/aacseed.js'")
  // An installed bin that is not on PATH: its full path.
  assert.equal(aacseedCommand('/opt/p/bin/aacseed', env, '/'), '/opt/p/bin/aacseed')
  assert.equal(aacseedCommand(undefined, env, '/'), 'aacseed')
})
