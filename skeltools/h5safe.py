"""HDF5 files that point outside themselves are refused: a dataset with external storage
(raw bytes in another file, which may be /dev/zero or a FIFO that blocks forever), a
virtual dataset (its data mapped from other files), or an external link (a node of another
file). A store or a raw `.mat` file holds none of these; every HDF5 file the tool reads is
walked for them before any data is read."""
from __future__ import annotations


def outside_references(f) -> list[str]:
    """The nodes of an open h5py File (or Group) that point outside it, each as
    `path (what)`, found without following any link or reading any data."""
    import h5py
    found: list[str] = []
    seen: set = set()

    def walk(group, prefix: str) -> None:
        for name in group.keys():
            path = f"{prefix}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                found.append(f"{path} (external link to {link.filename}:{link.path})")
                continue
            if isinstance(link, h5py.SoftLink):
                continue                      # within the file: its target is walked where it lies
            node = group.get(name)
            if node is None or node.id in seen:
                continue
            seen.add(node.id)
            if isinstance(node, h5py.Group):
                walk(node, path)
            elif isinstance(node, h5py.Dataset):
                plist = node.id.get_create_plist()
                if plist.get_layout() == h5py.h5d.VIRTUAL:
                    found.append(f"{path} (virtual dataset)")
                elif plist.get_external_count() > 0:
                    found.append(f"{path} (external storage in {plist.get_external(0)[0].decode(errors='replace')})")

    walk(f, "")
    return found
