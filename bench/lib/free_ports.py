#!/usr/bin/python3
"""free_ports.py: prints N distinct TCP ports that are free on 127.0.0.1 now, one per line.

Usage: free_ports.py N
Ports are picked at random below Linux's default ephemeral range (32768-60999), so the
outgoing connections of the benchmark itself never take them.
"""
import random
import socket
import sys

LOW, HIGH = 15000, 32000


def is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print("usage: free_ports.py N", file=sys.stderr)
        return 2
    wanted = int(sys.argv[1])
    rng = random.SystemRandom()
    chosen = []
    for _ in range(10000):
        if len(chosen) == wanted:
            break
        port = rng.randrange(LOW, HIGH)
        if port not in chosen and is_free(port):
            chosen.append(port)
    if len(chosen) != wanted:
        print("free_ports: found only %d free ports" % len(chosen), file=sys.stderr)
        return 1
    print("\n".join(str(p) for p in chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
