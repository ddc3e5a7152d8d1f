#!/usr/bin/python3
"""bench:seed's second downloader: libtorrent (Debian's python3-libtorrent) downloads one
torrent into a directory and exits 0 once every piece is downloaded and checked against its
hash. Loopback only; uTP off (over loopback libtorrent's uTP ran at about 6 MB/s), no DHT, LSD,
UPnP or NAT-PMP; several connections from 127.0.0.1 allowed (every peer shares that address).

usage: libtorrent-download.py TORRENT OUTDIR TIMEOUT_SECONDS
"""
import sys
import time

import libtorrent as lt

torrent, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
session = lt.session(
    {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification,
    }
)
handle = session.add_torrent({"ti": lt.torrent_info(torrent), "save_path": out})
deadline = time.monotonic() + timeout
while True:
    s = handle.status()
    if s.is_seeding:
        break
    if s.errc.value() != 0:
        print(f"libtorrent: {s.errc.message()}", file=sys.stderr)
        sys.exit(1)
    if time.monotonic() > deadline:
        print(f"libtorrent: timed out at {s.total_wanted_done} of {s.total_wanted} bytes", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
session.remove_torrent(handle)
