#!/usr/bin/env python3
"""Cold start of a server: process start until GET /ping answers 200, polled in-process over raw sockets
every 0.5 ms (no curl processes in the measurement). Usage: cold_start.py PORT CMD ARGS..."""
import os, signal, socket, subprocess, sys, time

port, cmd = int(sys.argv[1]), sys.argv[2:]
t0 = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
try:
    while True:
        if proc.poll() is not None:
            sys.exit(f"the server exited ({proc.returncode}) before answering /ping")
        if time.perf_counter() - t0 > 180:
            sys.exit("no /ping answer within 180 s")
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
            s.sendall(f"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                break
        except OSError:
            time.sleep(0.0005)
    print(f"cold start to /ping 200: {(time.perf_counter() - t0) * 1000:.1f} ms")
finally:
    # The whole process group: MLflow's server forks workers.
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    proc.wait()
