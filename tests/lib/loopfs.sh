# tests/lib/loopfs.sh: a file system of its own on a loop device, to freeze
# (fsfreeze) as a disk that stops answering. Needs root, mkfs.ext4 and a
# free loop device.

# loopfs_mount DIR SIZE: an ext4 image DIR/disk.img of SIZE (truncate's
# units), mounted at DIR/mnt; its status
loopfs_mount() {
	mkdir -p "$1/mnt" && truncate -s "$2" "$1/disk.img" && mkfs.ext4 -q -F "$1/disk.img" >/dev/null 2>&1 &&
		mount -o loop "$1/disk.img" "$1/mnt" 2>/dev/null
}

# loopfs_release DIR: for an EXIT trap: thawed, the servers killed (a
# process writing to a frozen file system holds its umount), unmounted
loopfs_release() {
	fsfreeze -u "$1/mnt" 2>/dev/null
	for p in "${SRV_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	umount "$1/mnt" 2>/dev/null
}
