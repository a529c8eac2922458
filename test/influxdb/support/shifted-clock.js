// Preloaded into a simulator process (node --require) to set its clock back by CLOCK_SHIFT_MS:
// Date.now() and `new Date()` read the shifted time, so a backfill with SIM_EXIT_AFTER_BACKFILL
// ends that long ago: the data of a device that stopped reporting then, written by the real
// simulator. Nothing else changes (timers, performance.now and TLS certificate checks keep the real
// clock).
"use strict";
const shift = Number(process.env.CLOCK_SHIFT_MS);
if (!Number.isInteger(shift) || shift < 0) throw new Error(`CLOCK_SHIFT_MS must be a whole number of milliseconds, not ${process.env.CLOCK_SHIFT_MS}`);
const RealDate = Date;
class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() - shift);
    else super(...args);
  }
  static now() {
    return RealDate.now() - shift;
  }
}
globalThis.Date = ShiftedDate;
