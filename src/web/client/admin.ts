// The dashboard: sign-in with the admin token, then the library, uploads, edge statistics and backups.
import { api, ApiError, forgetToken, storedToken, storeToken, UNAUTHORIZED_EVENT, type MediaList } from './api.ts';
import { one } from './dom.ts';
import { createLibraryView } from './admin-library.ts';
import { createUploadView } from './admin-upload.ts';
import { createStatsView } from './admin-stats.ts';
import { createBackupsView } from './admin-backups.ts';
import { closeOnCancelButtons } from './admin-ui.ts';
import { createHealthView } from './admin-health.ts';

const signin = one('.signin');
const app = one('.app');
const form = one<HTMLFormElement>('.signin-form');
const formError = one('.form-error', form);
const signout = one<HTMLButtonElement>('.signout');

closeOnCancelButtons();
// The library table flags what the health check found; a change to the library checks again.
const health = createHealthView({ onChange: () => library.redraw() });
const library = createLibraryView({ flagFor: (id) => health.flagFor(id), onChanged: () => health.refresh() });
const uploads = createUploadView({
  onUploaded: () => {
    library.refresh();
    health.refresh();
  },
});
const stats = createStatsView();
const backups = createBackupsView();
void uploads;

function showSignin(message?: string): void {
  app.hidden = true;
  signout.hidden = true;
  signin.hidden = false;
  document.body.classList.add('signed-out');
  stats.stop();
  formError.hidden = message === undefined;
  formError.textContent = message ?? '';
  one<HTMLInputElement>('input[name=token]', form).focus();
}

function showApp(): void {
  signin.hidden = true;
  document.body.classList.remove('signed-out');
  app.hidden = false;
  signout.hidden = false;
  library.refresh();
  health.refresh();
  stats.start();
  backups.refresh();
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const token = String(data.get('token') ?? '').trim();
  const submit = one<HTMLButtonElement>('button[type=submit]', form);
  submit.disabled = true;
  try {
    // Any admin call checks the token; the smallest one will do.
    await api<MediaList>('GET', '/api/media?limit=1', { token });
    storeToken(token, data.get('remember') === 'on');
    form.reset();
    showApp();
  } catch (err) {
    showSignin(err instanceof ApiError && err.status === 401 ? 'That token was not accepted.' : (err as Error).message);
  } finally {
    submit.disabled = false;
  }
});

signout.addEventListener('click', () => {
  forgetToken();
  showSignin();
});

window.addEventListener(UNAUTHORIZED_EVENT, () => {
  forgetToken();
  showSignin('Your session ended: the admin token was not accepted. Sign in again.');
});

if (storedToken() === undefined) showSignin();
else showApp();
