// Loaded into the real WAHA (NODE_OPTIONS=--require) by tests/real_gateways only. Offline a
// session never becomes WORKING, so WAHA's gate (SessionManager.getWorkingSession: wait up to
// 5 s for WORKING, else 422) would hide what the engine itself answers. This lets the gate pass
// for a started session; the session lookup (Core's 'default' only, 404 when stopped), the
// controller, the engine and the exception filter stay WAHA's own.
const Module = require('module');
const load = Module._load;
Module._load = function (...args) {
  const exported = load.apply(this, args);
  const manager = /manager\.abc(\.js)?$/.test(String(args[0])) && exported.SessionManager;
  if (typeof manager === 'function' && !manager.prototype.heraldWorkingGate) {
    manager.prototype.heraldWorkingGate = true;
    manager.prototype.getWorkingSession = async function (name) {
      return this.getSession(name);
    };
  }
  return exported;
};
