// Value / RawValue: one typed value in shared memory (Python's multiprocessing.Value).
import { inspect } from 'node:util';
import { corruptError } from '../base/errors';
import { registerHandleKind, toHandle, type HandleData } from '../share/handles';
import { Kind } from '../binding/layout';
import { remember } from '../shm/holds';
import { fromStored, toStored, typeInfo, type IntegerTypecode, type Typecode, type ValueOf, type ViewOf } from './typecodes';
import { SharedData, checkOptions, revive, type SharedValueOptions } from './shared_data';

export class Value<C extends Typecode = Typecode> extends SharedData {
  constructor(typecode: C, initial?: ValueOf<C>, options?: SharedValueOptions) {
    const opts = checkOptions(options, 'Value');
    super(Kind.Value, typecode, 1, opts, (view) => {
      if (initial !== undefined) view[0] = toStored(typeInfo(typecode), initial, 'initial');
    });
    if (this.view.length !== 1) throw corruptError(`${this.state.describe()} is corrupt: a Value must hold one item`);
    remember(this.state, this);
  }

  get value(): ValueOf<C> {
    return this.locked(() => fromStored(this.info, this.view[0])) as ValueOf<C>;
  }

  set value(v: ValueOf<C>) {
    const stored = toStored(this.info, v, 'value');
    this.locked(() => {
      this.view[0] = stored;
    });
  }

  /** The typed view (a one-element typed array). */
  override get view(): ViewOf<C> {
    return super.view as ViewOf<C>;
  }

  /** Atomically adds n (integer typecodes; no lock needed) and returns the new value, wrapped as the type wraps. */
  add(this: C extends IntegerTypecode ? Value<C> : never, n: ValueOf<C>): ValueOf<C> {
    // (`this` is typed so that add() on a float or char Value does not compile.)
    return (this as Value<C>).atomicAdd(0, n) as ValueOf<C>;
  }

  /** Atomically replaces the value with `replacement` if it is `expected`; returns the value it found. */
  compareExchange(expected: ValueOf<C>, replacement: ValueOf<C>): ValueOf<C> {
    return this.atomicCompareExchange(0, expected, replacement) as ValueOf<C>;
  }

  [toHandle](): HandleData {
    return this.handleData('Value');
  }

  get [Symbol.toStringTag](): string {
    return 'Value';
  }

  [inspect.custom](depth: number, options: object): string {
    const name = this.state.userName !== undefined ? ` ${JSON.stringify(this.state.userName)}` : '';
    void depth;
    return `Value<${this.info.name}>${name} { ${inspect(fromStored(this.info, this.view[0]), options)} }`;
  }
}

/** A Value without a lock (sharedctypes.RawValue). */
export function RawValue<C extends Typecode>(typecode: C, initial?: ValueOf<C>): Value<C> {
  return new Value<C>(typecode, initial, { lock: false });
}

registerHandleKind('Value', (data) => revive(data, Kind.Value, () => new Value(String(data.typecode) as Typecode)));
