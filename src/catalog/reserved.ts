/**
 * Folder names in a release root that are never releases. Apart from scan.ts so that the
 * mirror can name them without loading the scanner (its workers and zstd) at start-up.
 */
/**
 * Where mirror sync keeps downloads until they are verified (src/mirror): never read as releases, whatever
 * `catalog.ignore` says.
 */
export const MIRROR_WORK_DIR = '.aacseed-mirror'

/**
 * Where mirror sync puts the opaque torrents it follows (src/mirror/other.ts): not releases, so
 * never read as such. No AAC release is named like this, so skipping it hides none.
 */
export const OTHER_TORRENTS_DIR = 'other-torrents'
