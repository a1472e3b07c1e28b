/**
 * Plain JSON-like trees as the configuration layers are merged: a leaf is anything but a plain object
 * (arrays included, so a layer replaces an array whole instead of merging it element by element).
 */

export type Tree = Record<string, unknown>;

export function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `symbols.BTCUSDT.orderQty`; the root is named so an error about it still has a path. */
export function dottedPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

/** Every leaf under the tree with its path, depth first in key order. */
export function leaves(tree: Tree, prefix: readonly string[] = []): [string[], unknown][] {
  return Object.entries(tree).flatMap(([key, value]): [string[], unknown][] => {
    const path = [...prefix, key];
    return isTree(value) ? leaves(value, path) : [[path, value]];
  });
}

/** Sets the leaf at path, creating (or replacing non-object) sections on the way. */
export function setLeaf(tree: Tree, path: readonly string[], value: unknown): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length === 0) {
    tree[head] = value;
    return;
  }
  const child = tree[head];
  const section = isTree(child) ? child : {};
  tree[head] = section;
  setLeaf(section, rest, value);
}

/**
 * Deep-merges `defaults` under `target` in place: target's own values win; every value taken from
 * defaults is reported with its path relative to target.
 */
export function fillMissing(target: Tree, defaults: Tree, onFilled: (path: string[]) => void, prefix: readonly string[] = []): void {
  for (const [key, value] of Object.entries(defaults)) {
    const path = [...prefix, key];
    const own = target[key];
    if (own === undefined) {
      target[key] = structuredClone(value);
      const filled = isTree(value) ? leaves(value, path).map(([leafPath]) => leafPath) : [path];
      for (const leafPath of filled) onFilled(leafPath);
    } else if (isTree(own) && isTree(value)) {
      fillMissing(own, value, onFilled, path);
    }
  }
}
