/** The gateway alone in its process (SLIPWAY_ROLE=gateway does the same from the compiled entry). */
import { loadServiceSettings, settingsOrExit } from '@slipway/runtime/config';
import { startOrExit, stopOnSignals } from '@slipway/runtime/service';
import { startGateway } from './service';

const gateway = await startOrExit(() => startGateway(settingsOrExit(() => loadServiceSettings('gateway'))));
stopOnSignals(() => [gateway]);
