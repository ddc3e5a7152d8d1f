#!/usr/bin/python3
"""bench:seed's second downloader: libtorrent (Debian's python3-libtorrent) downloads one
torrent into a directory and exits 0 once every piece is downloaded and checked against its
hash. Loopback only; uTP off (over loopback libtorrent's uTP ran at about 6 MB/s), no DHT, LSD,
UPnP or NAT-PMP; several connections from 127.0.0.1 allowed (every peer shares that address).

With TIMELINE, every 50 ms one JSON line goes there: seconds since the torrent was added,
bytes verified, payload rate, this process's CPU seconds, and what libtorrent says of each peer
(requests in flight, and whether reading from it waits for the network, the disk or nothing).

usage: libtorrent-download.py TORRENT OUTDIR TIMEOUT_SECONDS [TIMELINE]
"""
import json
import resource
import sys
import time

import libtorrent as lt

torrent, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
timeline = open(sys.argv[4], "w") if len(sys.argv) > 4 else None
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
started = time.monotonic()
handle = session.add_torrent({"ti": lt.torrent_info(torrent), "save_path": out})
deadline = started + timeout


def sample(s):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peers = [
        {
            "queue": p.download_queue_length,
            "read": p.read_state,
            "write": p.write_state,
            "rate": p.payload_down_speed,
            "choked": bool(p.flags & lt.peer_info.remote_choked),
            "pendingDisk": p.pending_disk_bytes,
        }
        for p in handle.get_peer_info()
    ]
    line = {
        "t": round(time.monotonic() - started, 3),
        "done": s.total_wanted_done,
        "rate": s.download_payload_rate,
        "cpu": round(usage.ru_utime + usage.ru_stime, 3),
        "peers": peers,
    }
    timeline.write(json.dumps(line) + "\n")


while True:
    s = handle.status()
    if timeline:
        sample(s)
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
