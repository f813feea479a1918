/** The API alone in its process (SLIPWAY_ROLE=api does the same from the compiled entry). */
import { loadServiceSettings, settingsOrExit } from '@slipway/runtime/config';
import { startOrExit, stopOnSignals } from '@slipway/runtime/service';
import { startApi } from './service';

const api = await startOrExit(() => startApi(settingsOrExit(() => loadServiceSettings('api'))));
stopOnSignals(() => [api]);
