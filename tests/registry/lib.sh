# tests/registry/lib.sh: starts and stops a real registry (Debian's docker-registry) for the tests,
# on 127.0.0.1 and a free port. Sourced after tests/tap.sh.
#   reg_start MODE DIR: MODE plain (HTTP), tls (HTTPS, a certificate made here with openssl),
#     htpasswd (HTTPS + basic auth, user crumb / password $REG_PASS) or token (HTTPS + bearer
#     tokens from tests/registry/token.py, which gives anonymous clients pull only).
#     Sets REG (host:port), REG_DIR, REG_STORE (the registry's storage), REG_CERTS (a
#     certs.d-style directory holding ca.crt, for skopeo --cert-dir), REG_LOG.
#   reg_stop: stops it (and the token service).
REG_USER=crumb
REG_PASS=s3cret-pass-123
reg_here=${reg_here:-$(cd "$(dirname "$0")/../registry" && pwd)}

reg_start() {
	REG_MODE=$1 REG_DIR=$2
	mkdir -p "$REG_DIR/store" "$REG_DIR/certs"
	REG_STORE=$REG_DIR/store REG_CERTS=$REG_DIR/certs REG_LOG=$REG_DIR/registry.log
	port=$(free_port)
	REG=127.0.0.1:$port
	{
		echo "version: 0.1"
		echo "log: {level: info, accesslog: {disabled: false}}"
		echo "storage: {filesystem: {rootdirectory: $REG_STORE}, delete: {enabled: true}}"
		echo "http:"
		echo "  addr: $REG"
		echo "  secret: crumb-test-secret"
	} >"$REG_DIR/config.yml"
	if [ "$REG_MODE" != plain ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
			-addext subjectAltName=IP:127.0.0.1 -keyout "$REG_DIR/tls.key" \
			-out "$REG_DIR/tls.crt" 2>/dev/null || return 1
		cp "$REG_DIR/tls.crt" "$REG_CERTS/ca.crt"
		printf '  tls: {certificate: %s, key: %s}\n' "$REG_DIR/tls.crt" "$REG_DIR/tls.key" \
			>>"$REG_DIR/config.yml"
	fi
	case $REG_MODE in
	htpasswd)
		h=$(python3 -W ignore -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))' "$REG_PASS")
		echo "$REG_USER:$h" >"$REG_DIR/htpasswd"
		printf 'auth: {htpasswd: {realm: crumb-test, path: %s}}\n' "$REG_DIR/htpasswd" \
			>>"$REG_DIR/config.yml"
		;;
	token)
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=crumb-token \
			-keyout "$REG_DIR/token.key" -out "$REG_DIR/token.crt" 2>/dev/null || return 1
		rm -f "$REG_DIR/token.port"
		python3 "$reg_here/token.py" "$REG_DIR/token.port" "$REG_DIR/token.key" \
			"$REG_DIR/token.crt" "$REG_USER" "$REG_PASS" 2>"$REG_DIR/token.log" &
		REG_TOKEN_PID=$!
		retry 10 test -s "$REG_DIR/token.port" || return 1
		printf 'auth: {token: {realm: "http://127.0.0.1:%s/token", service: crumb-test, issuer: crumb-test-issuer, rootcertbundle: %s}}\n' \
			"$(cat "$REG_DIR/token.port")" "$REG_DIR/token.crt" >>"$REG_DIR/config.yml"
		;;
	esac
	docker-registry serve "$REG_DIR/config.yml" >"$REG_LOG" 2>&1 &
	REG_PID=$!
	scheme=https
	[ "$REG_MODE" = plain ] && scheme=http
	retry 15 curl -s -o /dev/null --cacert "$REG_DIR/tls.crt" "$scheme://$REG/v2/" 2>/dev/null
}

reg_stop() {
	if [ -n "${REG_PID-}" ]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || :; fi
	if [ -n "${REG_TOKEN_PID-}" ]; then kill "$REG_TOKEN_PID" 2>/dev/null; wait "$REG_TOKEN_PID" 2>/dev/null || :; fi
	REG_PID="" REG_TOKEN_PID=""
	return 0
}
