// The children this process started and has not yet seen exit.
import type { Process } from './process';

const children = new Set<Process>();

export function addChild(p: Process): void {
  children.add(p);
}

export function removeChild(p: Process): void {
  children.delete(p);
}

/** The children of this process that are still running (finished ones are dropped). */
export function activeChildren(): Process[] {
  return [...children].filter((p) => p.isAlive());
}
