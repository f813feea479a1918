/**
 * English and Simplified Chinese (the seed's users) through svelte-i18n: the browser's language by
 * default, switchable, the choice kept in localStorage.
 */
import { addMessages, getLocaleFromNavigator, init, locale } from 'svelte-i18n';
import en from './en.json';
import zh from './zh-CN.json';

export const LOCALES = [
  { id: 'en', label: 'English' },
  { id: 'zh-CN', label: '简体中文' },
] as const;

const KEY = 'slipway.locale';

export function setupI18n(): void {
  addMessages('en', en);
  addMessages('zh-CN', zh);
  const saved = typeof localStorage !== 'undefined' ? localStorage.getItem(KEY) : null;
  const browser = getLocaleFromNavigator() ?? 'en';
  init({ fallbackLocale: 'en', initialLocale: saved ?? (browser.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en') });
}

export function switchLocale(id: string): void {
  locale.set(id);
  localStorage.setItem(KEY, id);
  document.documentElement.lang = id;
}
