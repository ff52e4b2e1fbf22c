/**
 * Entry point of `pulumi up` (Pulumi.yaml `main: pulumi`, run through tsx). The default export is
 * a function, so the runtime calls it and its result becomes the stack outputs.
 */
import { feedkitProgram } from './program.js';

export default () => feedkitProgram();
