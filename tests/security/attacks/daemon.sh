# Untrusted code: leave a daemon behind.  Double fork and setsid, ignore the
# polite signals, sleep forever -- with the exec's stdout and stderr still
# open in the daemon (DAEMON_DETACH=1: redirected to /dev/null instead).
set -u
if [ "${DAEMON_DETACH:-0}" = 1 ]; then
	( setsid sh -c 'trap "" HUP INT TERM; while :; do sleep 1000; done' \
		</dev/null >/dev/null 2>&1 & )
else
	( setsid sh -c 'trap "" HUP INT TERM; while :; do sleep 1000; done' & )
fi
echo "CHECK daemon_started OK"
echo DONE
