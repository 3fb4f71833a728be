# Untrusted code: fill the tmpfs at $FILL_DIR with zeros until the disk is
# full, then report what dd said and clean up.
set -u
out=$(dd if=/dev/zero of="$FILL_DIR/fill" bs=1M count=1024 2>&1)
rc=$?
case "$out" in
*"No space left on device"*) echo "CHECK fill_$FILL_NAME BLOCKED ENOSPC rc=$rc" ;;
*) echo "CHECK fill_$FILL_NAME ESCAPED rc=$rc: $out" ;;
esac
echo "CHECK fill_${FILL_NAME}_size KB $(du -k "$FILL_DIR/fill" | cut -f1)"
rm -f "$FILL_DIR/fill"
echo DONE
