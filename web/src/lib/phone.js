// Phone layout (≤ 768 px): panels fold into a drawer.
import {onBeforeUnmount, ref} from 'vue';

export const PHONE_QUERY = '(max-width: 768px)';

export function usePhone() {
    const query = window.matchMedia(PHONE_QUERY);
    const phone = ref(query.matches);
    const update = () => { phone.value = query.matches; };
    query.addEventListener('change', update);
    onBeforeUnmount(() => query.removeEventListener('change', update));
    return phone;
}
