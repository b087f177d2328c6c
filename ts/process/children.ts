// The children this process started and has not yet seen exit. Kept as
// what the registry needs of them, so that it depends on nothing above it;
// process.ts hands them out as Processes (activeChildren()).

/** What the registry needs of a child: whether it is still running. */
export interface Child {
  isAlive(): boolean;
}

const children = new Set<Child>();

export function addChild(p: Child): void {
  children.add(p);
}

export function removeChild(p: Child): void {
  children.delete(p);
}

/** The children still running (finished ones are dropped). */
export function runningChildren(): Child[] {
  return [...children].filter((p) => p.isAlive());
}
