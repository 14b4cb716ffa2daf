# SPDX-License-Identifier: Apache-2.0
# An HTTPS server inside the guest: Debian's nginx on 127.0.0.1 with a CA and a server
# certificate made here by Debian's openssl binary. Sourced after /scenarios/lib.sh (fail, pass).
# The test needs, in tests/vm/CMakeLists.txt:
#   BINS /usr/sbin/nginx:/usr/sbin/nginx /usr/bin/openssl
#   FILES scenarios/lib.sh:/scenarios/lib.sh scenarios/https.sh:/scenarios/https.sh
#
#   https_pki                 CA and certificate for IP:127.0.0.1 into $HTTPS_DIR ($HTTPS_CA)
#   https_start               nginx serving $HTTPS_ROOT on $HTTPS_PORT (runs https_pki if needed)
#   https_publish NAME FILE   put FILE at /NAME, atomically and with a new ETag
#   https_url NAME            https://127.0.0.1:$HTTPS_PORT/NAME
#   https_stop                stop nginx (also fine when it is not running)
#
# Besides the files of $HTTPS_ROOT, /status/500 always answers 500. nginx runs as one process
# (master_process off) in the background of the script; a scenario calls https_stop before
# vm_finish or exit (the VM powers off regardless).

HTTPS_DIR=${HTTPS_DIR:-/tmp/https}
HTTPS_PORT=${HTTPS_PORT:-8443}
HTTPS_CA=$HTTPS_DIR/ca.pem
HTTPS_ROOT=$HTTPS_DIR/www
HTTPS_PID=
HTTPS_MTIME=0
NGINX=${NGINX:-/usr/sbin/nginx}

# openssl reads no configuration file: the guest has none, and none is needed.
https_openssl() { OPENSSL_CONF=/dev/null openssl "$@" >>"$HTTPS_DIR/openssl.log" 2>&1; }

https_pki() {
	mkdir -p "$HTTPS_DIR" || return 1
	# EC P-256: key generation is instant even under TCG, where RSA takes seconds.
	https_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$HTTPS_DIR/ca.key" -out "$HTTPS_CA" -days 2 -subj "/CN=modgate guest CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
		https_openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$HTTPS_DIR/server.key" -out "$HTTPS_DIR/server.csr" -subj "/CN=127.0.0.1" &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
			>"$HTTPS_DIR/server.ext" &&
		https_openssl x509 -req -in "$HTTPS_DIR/server.csr" -CA "$HTTPS_CA" \
			-CAkey "$HTTPS_DIR/ca.key" -set_serial 1 -days 2 -extfile "$HTTPS_DIR/server.ext" \
			-out "$HTTPS_DIR/server.pem" || {
		echo "https_pki: openssl failed:"
		cat "$HTTPS_DIR/openssl.log"
		return 1
	}
}

# nginx, started as root, resolves the user of its configuration (nobody:nogroup) through
# /etc/passwd and /etc/group even with master_process off; the initramfs has neither.
https_users() {
	grep -q '^root:' /etc/passwd 2>/dev/null || echo 'root:x:0:0:root:/root:/bin/sh' >>/etc/passwd
	grep -q '^nobody:' /etc/passwd || echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >>/etc/passwd
	grep -q '^root:' /etc/group 2>/dev/null || echo 'root:x:0:' >>/etc/group
	grep -q '^nogroup:' /etc/group || echo 'nogroup:x:65534:' >>/etc/group
}

# Listening on 127.0.0.1:PORT, by /proc/net/tcp (state 0A), so no client tool is needed.
https_listening() {
	hex=$(printf '%04X' "$1")
	grep -q "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A " /proc/net/tcp
}

https_start() {
	[ -f "$HTTPS_DIR/server.pem" ] || https_pki || return 1
	https_users
	mkdir -p "$HTTPS_ROOT" "$HTTPS_DIR/tmp"
	cat >"$HTTPS_DIR/nginx.conf" <<EOF
daemon off;
master_process off;
user nobody nogroup;
pid $HTTPS_DIR/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
  access_log $HTTPS_DIR/access.log;
  default_type application/octet-stream;
  client_body_temp_path $HTTPS_DIR/tmp/body;
  proxy_temp_path $HTTPS_DIR/tmp/proxy;
  fastcgi_temp_path $HTTPS_DIR/tmp/fastcgi;
  uwsgi_temp_path $HTTPS_DIR/tmp/uwsgi;
  scgi_temp_path $HTTPS_DIR/tmp/scgi;
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl;
    ssl_certificate $HTTPS_DIR/server.pem;
    ssl_certificate_key $HTTPS_DIR/server.key;
    root $HTTPS_ROOT;
    location = /status/500 { return 500; }
  }
}
EOF
	"$NGINX" -p "$HTTPS_DIR/" -e stderr -c "$HTTPS_DIR/nginx.conf" >"$HTTPS_DIR/nginx.log" 2>&1 &
	HTTPS_PID=$!
	i=0
	while ! https_listening "$HTTPS_PORT"; do
		if ! kill -0 "$HTTPS_PID" 2>/dev/null; then
			echo "https_start: nginx exited:"
			cat "$HTTPS_DIR/nginx.log"
			HTTPS_PID=
			return 1
		fi
		i=$((i + 1))
		if [ "$i" -ge 300 ]; then
			echo "https_start: nginx not listening on $HTTPS_PORT after 30 s:"
			cat "$HTTPS_DIR/nginx.log"
			https_stop
			return 1
		fi
		sleep 0.1
	done
	pass "nginx serving $HTTPS_ROOT on https://127.0.0.1:$HTTPS_PORT (pid $HTTPS_PID)"
}

https_stop() {
	[ -n "$HTTPS_PID" ] || return 0
	kill "$HTTPS_PID" 2>/dev/null
	wait "$HTTPS_PID" 2>/dev/null
	HTTPS_PID=
}

# nginx's ETag is mtime and size: each publish gets its own mtime, one second past the last, so
# two versions of one size published in the same second still differ.
https_publish() {
	mkdir -p "$HTTPS_ROOT"
	now=$(date +%s)
	HTTPS_MTIME=$((HTTPS_MTIME + 1))
	[ "$HTTPS_MTIME" -ge "$now" ] || HTTPS_MTIME=$now
	cp "$2" "$HTTPS_ROOT/.$1.tmp" && touch -d "@$HTTPS_MTIME" "$HTTPS_ROOT/.$1.tmp" &&
		mv -f "$HTTPS_ROOT/.$1.tmp" "$HTTPS_ROOT/$1"
}

https_url() { echo "https://127.0.0.1:$HTTPS_PORT/$1"; }
