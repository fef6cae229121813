import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useId, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  readonly loading: boolean;
  reload(): void;
}

/** Loads once per `deps`, keeping the last answer while it reloads after a change. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: Error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, round]);
  return { data: state.data, error: state.error, loading: state.loading, reload: useCallback(() => setRound((r) => r + 1), []) };
}

export function Loading({ what }: { what: string }): JSX.Element {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** The API's own sentence, and its code for whoever reports it. */
export function ErrorBox({ error }: { error: Error }): JSX.Element {
  return (
    <div class="error" role="alert">
      <p>{error.message}</p>
      {error instanceof ApiError && <p class="code">{error.code}</p>}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }): JSX.Element {
  return <p class="empty">{children}</p>;
}

/** Loading, error, empty, or the content: the same four states on every page. */
export function Async<T>(props: { state: Loaded<T>; what: string; empty?: (d: T) => boolean; emptyText?: string; children: (d: T) => ComponentChildren }): JSX.Element {
  const { data, error, loading } = props.state;
  if (error) return <ErrorBox error={error} />;
  if (data === undefined) return loading ? <Loading what={props.what} /> : <Empty>Nothing to show.</Empty>;
  if (props.empty?.(data)) return <Empty>{props.emptyText ?? `No ${props.what} yet.`}</Empty>;
  return <>{props.children(data)}</>;
}

export interface Action {
  readonly busy: boolean;
  readonly error?: Error;
  readonly done?: string;
  run(work: () => Promise<string | void>): Promise<void>;
}

/** A change in progress: busy while it runs, then the API's refusal or a short confirmation. */
export function useAction(after?: () => void): Action {
  const [state, setState] = useState<{ busy: boolean; error?: Error; done?: string }>({ busy: false });
  const run = async (work: () => Promise<string | void>) => {
    setState({ busy: true });
    try {
      const done = await work();
      setState({ busy: false, done: done ?? 'Done.' });
      after?.();
    } catch (e) {
      setState({ busy: false, error: e as Error });
    }
  };
  return { ...state, run };
}

export function ActionStatus({ action }: { action: Action }): JSX.Element | null {
  if (action.error) return <ErrorBox error={action.error} />;
  if (action.done)
    return (
      <p class="done" role="status">
        {action.done}
      </p>
    );
  return null;
}

/** A page's part with its heading, named by it for screen readers. */
export function Section({ id, title, children }: { id: string; title: ComponentChildren; children: ComponentChildren }): JSX.Element {
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** A form that runs `onSubmit` as an action, with its status under it. */
export function ActionForm(props: { label: string; action: Action; onSubmit: (data: FormData) => Promise<string | void>; submit: string; children: ComponentChildren }): JSX.Element {
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    void props.action.run(() => props.onSubmit(new FormData(form)));
  };
  return (
    <form class="action-form" aria-label={props.label} onSubmit={submit}>
      {props.children}
      <button type="submit" disabled={props.action.busy}>
        {props.submit}
      </button>
      <ActionStatus action={props.action} />
    </form>
  );
}

export interface MakeProps {
  /** The section's id and heading, and the form's accessible name (the heading when not given). */
  readonly id: string;
  readonly title: ComponentChildren;
  readonly label?: string;
  readonly action: Action;
  readonly submit: string;
  onSubmit(data: FormData): Promise<string | void>;
  /** What the API answered once and never again (a token, a key): shown under the form until the page is left. */
  readonly secret?: { readonly label: string; readonly value: string | undefined };
  readonly children: ComponentChildren;
}

/** The way every page makes something: a section with its heading, the form, its status, and a secret shown once. */
export function MakeSection(props: MakeProps): JSX.Element {
  const label = props.label ?? (typeof props.title === 'string' ? props.title : props.id);
  return (
    <Section id={props.id} title={props.title}>
      <ActionForm label={label} action={props.action} submit={props.submit} onSubmit={props.onSubmit}>
        {props.children}
      </ActionForm>
      {props.secret && <ShownOnce label={props.secret.label} value={props.secret.value} />}
    </Section>
  );
}

/** A secret the API gives once: copy it now. */
export function ShownOnce({ label, value }: { label: string; value: string | undefined }): JSX.Element | null {
  if (!value) return null;
  return (
    <p class="secret">
      {label} (shown once): <code>{value}</code>
    </p>
  );
}

export function Field(props: { label: string; name: string; required?: boolean; type?: 'text' | 'number' | 'email' | 'datetime-local' | 'search'; placeholder?: string; value?: string; list?: string; hint?: string }): JSX.Element {
  const hint = useId();
  return (
    <label>
      <span>{props.label}</span>
      {/* A starting value, not a controlled one: a re-render (a load finishing) must not put back what the person just typed over. */}
      <input name={props.name} type={props.type ?? 'text'} required={props.required} placeholder={props.placeholder} defaultValue={props.value} list={props.list} aria-describedby={props.hint ? hint : undefined} />
      {props.hint && (
        // Read as the field's description, not again as part of its name.
        <small id={hint} class="hint" aria-hidden="true">
          {props.hint}
        </small>
      )}
    </label>
  );
}

export function Select(props: { label: string; name: string; options: readonly string[]; value?: string; onChange?: (v: string) => void }): JSX.Element {
  return (
    <label>
      <span>{props.label}</span>
      <select name={props.name} value={props.value} onChange={(e) => props.onChange?.((e.currentTarget as HTMLSelectElement).value)}>
        {props.options.map((o) => (
          <option value={o} key={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

export const text = (data: FormData, name: string): string => String(data.get(name) ?? '').trim();
export const optionalInt = (data: FormData, name: string): number | undefined => {
  const v = text(data, name);
  return v === '' ? undefined : Number(v);
};
export const list = (v: string): string[] =>
  v
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** Times as the person's browser shows them, the exact value on hover. */
export function Time({ at }: { at: string | null }): JSX.Element {
  if (!at) return <span class="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={at}>
      {Number.isNaN(d.getTime()) ? at : d.toLocaleString()}
    </time>
  );
}

/** How long ago `at` was, in words: "42 s", "5 min", "3 h", "2 days". */
export function since(at: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** The API's answer that a route is not served here (an instance without that part answers 404 ERR_NOT_FOUND). */
export const notServed = (e: unknown): boolean => e instanceof ApiError && e.status === 404 && e.code === 'ERR_NOT_FOUND';

export function Badge({ kind, children }: { kind: string; children: ComponentChildren }): JSX.Element {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

/** A page's heading and its one-line purpose; the heading takes focus when the page changes. */
export function PageHead({ title, children }: { title: string; children?: ComponentChildren }): JSX.Element {
  return (
    <header class="page-head">
      <h1 tabIndex={-1} id="page-title">
        {title}
      </h1>
      {children && <p class="lede">{children}</p>}
    </header>
  );
}

/** Pages that need a store or a brand say so instead of calling the API with none. */
export function NeedsStore({ what }: { what: string }): JSX.Element {
  return <Empty>Choose a store above to see its {what}.</Empty>;
}
