#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# check-hardening.sh - reproduce, without systemd, what petrid.service's
# sandboxing options do to petrid's view of the system, and run a command
# (by default `petri doctor --require all`) inside that view.  This is how
# the options of petrid.service were chosen (README.md next to it): each one
# kept must leave every layer working; each one left out for breaking
# something is shown to break it.
#
#   check-hardening.sh [--petri PATH] OPTION[,OPTION...] [-- COMMAND...]
#
# OPTION is one of (a systemd directive in lower case, '=yes' implied):
#   unit                     every option petrid.service sets, together
#   no_new_privileges        PR_SET_NO_NEW_PRIVS
#   capability_bounding_set  the unit's CapabilityBoundingSet=
#   protect_system_strict    all of / read-only but /dev /proc /sys and the
#                            unit's writable paths (/run/petri, /run/petrid,
#                            /var/log/petri)
#   private_tmp              fresh /tmp and /var/tmp
#   protect_home             /home /root /run/user inaccessible
#   private_devices          a /dev with only null zero full random urandom
#                            tty ptmx pts shm (the device cgroup policy that
#                            comes with it is not reproduced)
#   protect_kernel_modules   /usr/lib/modules inaccessible
#   protect_proc_invisible   ProtectProc=invisible: a proc with hidepid=invisible
#   protect_kernel_tunables  (left out of the unit) /proc/sys read-only
#   protect_kernel_logs      (left out) /proc/kmsg inaccessible
#   protect_control_groups   (left out) /sys/fs/cgroup read-only
#   none                     nothing (the reference)
#
# Everything happens in a private mount namespace (unshare): the host's
# mounts are not touched.  Needs root, util-linux (unshare, setpriv,
# findmnt).  Exit status: the command's.
set -eu

CAPS="-all,+sys_admin,+setuid,+setgid,+dac_override,+chown,+kill"
UNIT="no_new_privileges,capability_bounding_set,protect_system_strict,private_tmp,protect_home,private_devices,protect_kernel_modules,protect_proc_invisible"
RW_PATHS="/run/petri /run/petrid /var/log/petri"

petri=petri
if [ "${1:-}" = --petri ]; then
	petri=$2
	shift 2
fi
[ $# -ge 1 ] || { echo "usage: $0 [--petri PATH] OPTION[,OPTION...] [-- COMMAND...]" >&2; exit 2; }
opts=$1
shift
[ "${1:-}" = -- ] && shift
[ $# -ge 1 ] || set -- "$petri" doctor --require all

if [ -z "${PETRI_HARDENING_INNER:-}" ]; then
	export PETRI_HARDENING_INNER=1
	exec unshare --mount --propagation private "$0" --petri "$petri" "$opts" -- "$@"
fi

# The command's own files stay reachable where an option hides their root
# (a build tree in a CI clone under /tmp, or in a home directory): a real
# service's binaries live in /usr, never there, so this only keeps the
# check from hiding what it runs.  CMD_PATHS: the command's absolute paths
# (also in NAME=/path arguments).
CMD_PATHS=$petri
for a in "$@"; do
	case $a in
	/*) CMD_PATHS="$CMD_PATHS $a" ;;
	*=/*) CMD_PATHS="$CMD_PATHS ${a#*=}" ;;
	esac
done

# tops_under ROOT: the first-level directories under ROOT holding a path of
# the command.
tops_under() {
	for a in $CMD_PATHS; do
		case $a in
		"$1"/?*)
			rest=${a#"$1"/}
			echo "$1/${rest%%/*}"
			;;
		esac
	done | sort -u
}

# hide ROOT MOUNT-OPTIONS: mount a fresh tmpfs over ROOT, then bind the
# command's trees under it back in; MOUNT-OPTIONS containing ro make the
# tmpfs read-only once that is done.
hide() {
	root=$1
	opts_=$2
	stash=
	for t in $(tops_under "$root"); do
		[ -d "$t" ] || continue
		s=$(mktemp -d /run/petri-hardening-keep.XXXXXX)
		mount --bind "$t" "$s"
		stash="$stash $t=$s"
	done
	mount -t tmpfs -o "$(echo ",$opts_," | sed 's/,ro,/,/g; s/^,//; s/,$//')" tmpfs "$root"
	for p in $stash; do
		t=${p%%=*}
		s=${p#*=}
		mkdir -p "$t"
		mount --bind "$s" "$t"
		umount "$s"
		rmdir "$s"
	done
	case ",$opts_," in
	*,ro,*) mount -o remount,ro "$root" ;;
	esac
}

# inaccessible DIR: what systemd mounts over a path it hides.
inaccessible() {
	[ -d "$1" ] && [ ! -L "$1" ] || return 0
	hide "$1" ro,mode=000,nosuid,nodev,noexec
}

protect_system_strict() {
	# The writable paths exist first (ExecStartPre=, RuntimeDirectory=,
	# LogsDirectory=) and are bound onto themselves so that they stay
	# writable below a read-only /.
	targets=$(findmnt -rn -o TARGET | sort -u)
	mkdir -p /run/petri # ExecStartPre=; the others only if they exist here
	for p in $RW_PATHS; do
		[ -d "$p" ] || continue
		mount --bind "$p" "$p"
	done
	for t in $targets; do
		case $t in
		/proc | /proc/* | /sys | /sys/* | /dev | /dev/*) continue ;;
		esac
		case " $KEEP_RW " in
		*" $t "*) continue ;; # PrivateTmp='s /tmp stays writable
		esac
		mount -o remount,bind,ro "$t" 2>/dev/null || mount --bind -o ro "$t" "$t"
	done
}

private_devices() {
	d=$(mktemp -d /run/petri-hardening-dev.XXXXXX)
	mount -t tmpfs -o mode=755,nosuid,noexec tmpfs "$d"
	for n in null zero full random urandom tty; do
		: >"$d/$n"
		mount --bind "/dev/$n" "$d/$n"
	done
	mkdir "$d/pts" "$d/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$d/pts"
	ln -s pts/ptmx "$d/ptmx"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$d/shm"
	ln -s /proc/self/fd "$d/fd"
	ln -s /proc/self/fd/0 "$d/stdin"
	ln -s /proc/self/fd/1 "$d/stdout"
	ln -s /proc/self/fd/2 "$d/stderr"
	mount --move "$d" /dev
	rmdir "$d"
}

nnp=0
caps=0
KEEP_RW=
[ "$opts" = unit ] && opts=$UNIT
# Applied in a fixed order, as systemd does: new mounts first, the
# read-only remount of / last.
order="none no_new_privileges capability_bounding_set private_devices private_tmp protect_home
	protect_kernel_modules protect_proc_invisible protect_kernel_tunables protect_kernel_logs
	protect_control_groups protect_system_strict"
for o in $(echo "$opts" | tr ',' ' '); do
	case " $(echo $order) " in
	*" $o "*) ;;
	*) echo "check-hardening: unknown option '$o'" >&2; exit 2 ;;
	esac
done
for o in $order; do
	case ",$opts," in
	*",$o,"*) ;;
	*) continue ;;
	esac
	case $o in
	none) ;;
	no_new_privileges) nnp=1 ;;
	capability_bounding_set) caps=1 ;;
	protect_system_strict) protect_system_strict ;;
	private_tmp)
		hide /tmp mode=1777,nosuid,nodev
		hide /var/tmp mode=1777,nosuid,nodev
		KEEP_RW="/tmp /var/tmp"
		;;
	protect_home) for d in /home /root /run/user; do inaccessible "$d"; done ;;
	private_devices) private_devices ;;
	protect_kernel_modules) inaccessible /usr/lib/modules ;;
	protect_proc_invisible) mount -t proc -o hidepid=invisible,nosuid,nodev,noexec proc /proc ;;
	protect_kernel_tunables)
		mount --bind /proc/sys /proc/sys
		mount -o remount,bind,ro /proc/sys
		;;
	protect_kernel_logs) mount --bind /dev/null /proc/kmsg ;;
	protect_control_groups)
		for m in $(findmnt -rn -o TARGET | grep '^/sys/fs/cgroup'); do
			mount -o remount,bind,ro "$m"
		done
		;;
	esac
done

[ $caps = 1 ] && set -- setpriv --bounding-set "$CAPS" --inh-caps=-all -- "$@"
[ $nnp = 1 ] && set -- setpriv --no-new-privs -- "$@"
exec "$@"
