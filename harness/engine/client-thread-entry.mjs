// Worker-thread entry: register the TypeScript loader, then load the client thread.
import { register } from 'tsx/esm/api';
register();
await import('./client-thread.ts');
