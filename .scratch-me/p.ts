import { sendWelcomeEmail } from '../examples/worker/jobs.js'; console.log(sendWelcomeEmail.kind);
