import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Action } from '../../src/accounts/policy.js';
import { api, useCsrfToken } from './api.js';
import { Link, navigate, usePath } from './router.js';
import { brandOf, may, SessionContext, type Session } from './session.js';
import type { Me, Page, Store } from './types.js';
import { ErrorBox, Loading } from './ui.js';
import { StoresPage } from './pages/stores.js';
import { PeoplePage } from './pages/people.js';
import { TokensPage } from './pages/tokens.js';
import { ModelsPage } from './pages/models.js';
import { StationsPage } from './pages/stations.js';
import { CatalogPage } from './pages/catalog.js';
import { KeysPage } from './pages/keys.js';
import { CeremoniesPage } from './pages/ceremonies.js';
import { IssuancePage } from './pages/issuance.js';
import { AppliancesPage } from './pages/appliances.js';
import { AuditPage } from './pages/audit.js';

interface PageSpec {
  readonly path: string;
  readonly title: string;
  /** What the page reads: it is listed only for people the policy lets read it. */
  readonly reads: Action;
  readonly page: (props: { rest: string }) => JSX.Element;
}

export const PAGES: readonly PageSpec[] = [
  { path: '/stores', title: 'Stores', reads: 'store.list', page: StoresPage },
  { path: '/people', title: 'People and roles', reads: 'grant.list', page: PeoplePage },
  { path: '/tokens', title: 'Tokens', reads: 'token.list', page: TokensPage },
  { path: '/models', title: 'Models', reads: 'model.read', page: ModelsPage },
  { path: '/stations', title: 'Stations', reads: 'station.read', page: StationsPage },
  { path: '/catalog', title: 'Catalog', reads: 'snap.list', page: CatalogPage },
  { path: '/keys', title: 'Keys', reads: 'key.read', page: KeysPage },
  { path: '/ceremonies', title: 'Ceremonies', reads: 'ceremony.read', page: CeremoniesPage },
  { path: '/issuance', title: 'Issuance', reads: 'report.read', page: IssuancePage },
  { path: '/appliances', title: 'Appliances and sync', reads: 'sync-conflict.read', page: AppliancesPage },
  { path: '/audit', title: 'Audit', reads: 'audit.read', page: AuditPage },
];

const STORE_KEY = 'serial-vault.store';

function useSessionData() {
  const [state, setState] = useState<{ me?: Me; stores?: Store[]; error?: Error }>({});
  useEffect(() => {
    Promise.all([api<Me>('GET', '/api/v1/me'), api<Page<Store>>('GET', '/api/v1/stores?limit=200')]).then(
      ([me, stores]) => {
        useCsrfToken(me.csrfToken);
        setState({ me, stores: stores.items });
      },
      (error: Error) => setState({ error }),
    );
  }, []);
  return state;
}

export function App(): JSX.Element {
  const path = usePath();
  const { me, stores, error } = useSessionData();
  const [storeId, setStoreId] = useState<string | undefined>(() => new URLSearchParams(location.search).get('store') ?? sessionStorage.getItem(STORE_KEY) ?? undefined);
  const [menuOpen, setMenuOpen] = useState(false);

  const session = useMemo<Session | undefined>(() => {
    if (!me || !stores) return undefined;
    const store = stores.find((s) => s.id === storeId) ?? stores.find((s) => s.kind === 'brand') ?? stores[0];
    return {
      me,
      stores,
      store,
      brand: brandOf(stores, store?.id),
      selectStore: (id) => {
        sessionStorage.setItem(STORE_KEY, id);
        setStoreId(id);
      },
    };
  }, [me, stores, storeId]);

  useEffect(() => {
    if (path === '/') navigate('/stores');
    setMenuOpen(false);
    // A new page: its heading takes focus, so a screen reader announces it.
    document.getElementById('page-title')?.focus();
    const spec = PAGES.find((p) => path.startsWith(p.path));
    document.title = spec ? `${spec.title} · Serial vault` : 'Serial vault';
  }, [path, session !== undefined]);

  if (error) {
    return (
      <main id="main" class="solo">
        <h1>Serial vault</h1>
        <ErrorBox error={error} />
      </main>
    );
  }
  if (!session) {
    return (
      <main id="main" class="solo">
        <Loading what="your account" />
      </main>
    );
  }

  const visible = PAGES.filter((p) => may(session, p.reads, p.reads.startsWith('store.') ? undefined : session.store?.id));
  const current = visible.find((p) => path === p.path || path.startsWith(`${p.path}/`));
  const Page = current?.page;
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <button type="button" class="menu" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <span class="brandmark">Serial vault</span>
        <label class="store-pick">
          <span>Store</span>
          <select value={session.store?.id} onChange={(e) => session.selectStore((e.currentTarget as HTMLSelectElement).value)}>
            {session.stores.map((s) => (
              <option value={s.id} key={s.id}>
                {s.name} ({s.kind})
              </option>
            ))}
          </select>
        </label>
        <form method="post" action="/auth/logout" class="sign-out">
          <input type="hidden" name="csrf_token" value={session.me.csrfToken ?? ''} />
          <span class="who">{session.me.person?.email}</span>
          <button type="submit">Sign out</button>
        </form>
      </header>
      <nav id="nav" aria-label="Dashboard" class={menuOpen ? 'open' : ''}>
        <ul>
          {visible.map((p) => (
            <li key={p.path}>
              <Link href={p.path} current={p === current}>
                {p.title}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">{Page ? <Page rest={path.slice(current.path.length).replace(/^\//, '')} /> : <NotFound path={path} />}</main>
    </SessionContext.Provider>
  );
}

function NotFound({ path }: { path: string }): JSX.Element {
  return (
    <>
      <h1 tabIndex={-1} id="page-title">
        Not here
      </h1>
      <p>
        There is no page at <code>{path}</code>, or your roles do not include it. <Link href="/stores">Go to the stores.</Link>
      </p>
    </>
  );
}
