import { NetmachineError } from '@netmachine/core';

/** The event queue reached its bound: a run is flooding itself (e.g. a feedback loop between machines). */
export class SimulationOverflowError extends NetmachineError {
  constructor(readonly max: number) {
    super('ERR_SIMULATION_OVERFLOW', `more than ${max} events queued`);
  }
}

/** A node index or id the simulator does not know. */
export class UnknownSimNodeError extends NetmachineError {
  constructor(readonly node: string) {
    super('ERR_UNKNOWN_SIM_NODE', `no simulated node ${node}`);
  }
}

/** A scenario name or option the command line does not know. */
export class ScenarioUsageError extends NetmachineError {
  constructor(message: string) {
    super('ERR_SCENARIO_USAGE', message);
  }
}
