import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '@/assets/theme.css';
import { useAppStore } from '@/stores/app';
import { createExtensionBackend } from '@/utils/backend';
import { getLocale } from '@/utils/i18n';
import App from './App.vue';

document.documentElement.lang = getLocale();
const pinia = createPinia();
void useAppStore(pinia).init(createExtensionBackend());
createApp(App).use(pinia).mount('#app');
